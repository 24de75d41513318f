/*
 * title: Context switches by process
 * group: cpu
 * description: Counts the times each process leaves a CPU.
 */
sched:::off-cpu
{
	@switches[execname] = count();
}
