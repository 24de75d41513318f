/*
 * title: Threads created by process
 * group: processes
 * description: Counts new threads (LWPs) created, by process name.
 */
proc:::lwp-create
{
	@threads[execname] = count();
}
