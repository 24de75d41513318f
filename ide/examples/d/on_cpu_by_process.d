/*
 * title: Who is on CPU
 * group: cpu
 * description: Samples which process is running at 997 Hz; a pie chart of CPU time.
 */
profile-997
{
	@samples[execname] = count();
}
