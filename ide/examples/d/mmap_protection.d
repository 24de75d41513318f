/*
 * title: mmap() protection flags
 * group: memory
 * description: Linear distribution of the PROT_* flags passed to mmap(), per process (3D bars).
 */
syscall::mmap*:entry
{
	@prot[execname] = lquantize(arg2, 0, 8, 1);
}
