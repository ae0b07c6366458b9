// Package scalesim simulates what KEDA and the Kubernetes HPA do to a
// Flask worker group under a given load, second by second, so that scaling
// rules can be tried before they are deployed (flaskctl scale-sim).
//
// The inputs are Rules (read from the chart's values with Values.Rules, or
// set directly) and a Workload (Generate: arrivals from a Load profile, job
// lengths from a Durations distribution, drawn from a seed so that two rule
// sets can run on the very same jobs; Run draws them again from saved
// random states, so memory does not grow with the number of jobs). Run
// returns the per-second series and a Summary; WriteTable, WriteCSV and
// WriteSVG render one or two runs.
//
// The model, second t of a run:
//
//  1. Pods whose start-up delay has passed become ready and take waiting
//     jobs.
//  2. The metric the trigger reads is computed (nats-jetstream: queued +
//     running, KEDA counting num_pending + num_ack_pending; aws-sqs-queue:
//     queued, + running with scaleOnInFlight; metrics-api: queued +
//     running), optionally as it was MetricLag seconds ago.
//  3. Every PollingInterval KEDA checks activity (metric > Activation):
//     active at 0 (or idle) replicas wakes the group to max(Min, 1);
//     inactive for CooldownPeriod since the last active check puts a
//     group with Min 0 (or an idle count) back to 0 (or idle).
//  4. Every HPASyncPeriod, with at least one replica, the HPA proposes
//     ceil(metric / Target) unless metric / (Target × current) is within
//     Tolerance of 1, then applies the stabilization windows and the
//     policies of its behavior and clamps to max(Min, 1)…Max
//     (MetricReplicas and the unexported hpa type follow Kubernetes'
//     normalizeDesiredReplicasWithBehaviors).
//  5. New replicas start as pods that become ready after Startup seconds;
//     removed replicas are the not-ready pods first, then the newest ready
//     ones (a ReplicaSet's deletion order, blind to how busy a pod is). A
//     removed pod takes no more work; its jobs that end within DrainGrace
//     finish, the others go back to the front of the backlog then
//     (Summary.Interrupted).
//  6. Jobs arriving during the second (millisecond times) and jobs ending
//     are handled in time order: waiting jobs start FIFO on the least busy
//     ready pod with a free slot (Concurrency per pod).
//
// docs/scaling-simulator.md describes the model, its sources and what it
// leaves out.
package scalesim
