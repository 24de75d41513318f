/*
 * title: Run queue latency
 * group: cpu
 * description: Distribution of time from being queued to running, in microseconds.
 */
sched:::enqueue
{
	queued[args[0]->pr_lwpid, args[1]->pr_pid] = timestamp;
}

sched:::on-cpu
/queued[curlwpsinfo->pr_lwpid, pid]/
{
	@runq_us = quantize((timestamp - queued[curlwpsinfo->pr_lwpid, pid]) / 1000);
	queued[curlwpsinfo->pr_lwpid, pid] = 0;
}
