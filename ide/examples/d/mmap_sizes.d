/*
 * title: mmap() sizes by process
 * group: memory
 * description: Distribution of mmap() lengths requested, per process.
 */
syscall::mmap*:entry
{
	@bytes[execname] = quantize(arg1);
}
