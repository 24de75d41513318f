/*
 * title: Forks by parent
 * group: processes
 * description: Counts new processes by the name of the parent.
 */
proc:::create
{
	@forks[execname] = count();
}
