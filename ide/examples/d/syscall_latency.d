/*
 * title: System call latency by name
 * group: syscalls
 * description: Power-of-two distribution of nanoseconds spent in each system call, by name.
 */
syscall:::entry
{
	self->ts = timestamp;
}

syscall:::return
/self->ts/
{
	@latency[probefunc] = quantize(timestamp - self->ts);
	self->ts = 0;
}
