/*
 * title: sendto() sizes by process
 * group: network
 * description: Power-of-two distribution of bytes passed to sendto(), per process.
 */
syscall::sendto:entry
{
	@bytes[execname] = quantize(arg2);
}
