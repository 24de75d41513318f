/*
 * title: New programs (trace)
 * group: processes
 * description: Prints every program executed: time, pid and arguments.
 */
proc:::exec-success
{
	printf("%Y %-7d %s\n", walltimestamp, pid, curpsinfo->pr_psargs);
}
