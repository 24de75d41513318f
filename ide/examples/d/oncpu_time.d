/*
 * title: On-CPU time by process
 * group: cpu
 * description: Sums the nanoseconds each process runs before leaving a CPU.
 */
sched:::on-cpu
{
	self->on = timestamp;
}

sched:::off-cpu
/self->on/
{
	@ns[execname] = sum(timestamp - self->on);
	self->on = 0;
}
