/*
 * title: connect() calls by process
 * group: network
 * description: Counts connect() system calls by process name.
 */
syscall::connect*:entry
{
	@connects[execname] = count();
}
