/*
 * title: System calls per second
 * group: syscalls
 * description: The rate of system calls, printed once a second.
 */
syscall:::entry
{
	@rate = count();
}

tick-1sec
{
	printa("%@d syscalls/s\n", @rate);
	clear(@rate);
}
