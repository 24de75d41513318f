/*
 * title: Samples per CPU and process
 * group: cpu
 * description: Linear distribution of CPU numbers sampled, per process (3D bars).
 */
profile-997
{
	@cpu[execname] = lquantize(cpu, 0, 64, 1);
}
