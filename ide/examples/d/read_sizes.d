/*
 * title: read() sizes by process
 * group: io
 * description: Power-of-two distribution of bytes returned by read(), per process.
 */
syscall::read:return
/(int)arg0 > 0/
{
	@bytes[execname] = quantize(arg0);
}
