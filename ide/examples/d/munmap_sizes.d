/*
 * title: munmap() sizes by process
 * group: memory
 * description: Distribution of lengths unmapped with munmap(), per process.
 */
syscall::munmap:entry
{
	@bytes[execname] = quantize(arg1);
}
