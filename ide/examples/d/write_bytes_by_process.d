/*
 * title: Bytes written by process
 * group: io
 * description: Sums the bytes each process asks write() to write.
 */
syscall::write:entry
{
	@bytes[execname] = sum(arg2);
}
