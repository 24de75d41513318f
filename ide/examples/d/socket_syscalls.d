/*
 * title: Socket calls by process
 * group: network
 * description: Counts connect, accept, bind and listen calls by process and call.
 */
syscall::connect*:entry,
syscall::accept*:entry,
syscall::bind*:entry,
syscall::listen*:entry
{
	@calls[execname, probefunc] = count();
}
