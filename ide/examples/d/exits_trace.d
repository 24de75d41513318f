/*
 * title: Process exits (trace)
 * group: processes
 * description: Prints every process that exits with its exit reason.
 */
proc:::exit
{
	printf("%-7d %-16s reason=%d\n", pid, execname, args[0]);
}
