/*
 * title: Off-CPU time by process
 * group: cpu
 * description: Distribution of time threads spend off CPU (blocked or waiting), in microseconds.
 */
sched:::off-cpu
{
	self->off = timestamp;
}

sched:::on-cpu
/self->off/
{
	@off_us[execname] = quantize((timestamp - self->off) / 1000);
	self->off = 0;
}
