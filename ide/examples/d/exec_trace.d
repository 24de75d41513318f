/*
 * title: New programs (trace)
 * group: processes
 * description: Prints every program executed: time, pid and program name.
 */
proc:::exec-success
{
	printf("%Y %-7d %s\n", walltimestamp, pid, execname);
}
