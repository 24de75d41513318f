/*
 * title: CPU profile: kernel stacks
 * group: cpu
 * description: Samples kernel stacks at 997 Hz; a flame graph of kernel time.
 * duration: 10
 */
profile-997
/arg0/
{
	@stacks[stack()] = count();
}
