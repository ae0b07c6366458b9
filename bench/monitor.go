package main

import (
	"os"
	"sync"
	"time"
)

// memFig is one process's memory over a scenario, in KiB.
type memFig struct {
	Peak, End int64
}

// monitor samples the memory of a deployment's processes while a scenario
// runs. For api, worker and nats the kernel's high-water mark (VmHWM) is
// the peak; PostgreSQL is many processes sharing memory, so its figure is
// the sum of their PSS, sampled.
type monitor struct {
	pids       map[string]int
	postmaster int
	stop, done chan struct{}

	mu        sync.Mutex
	pgPeakPSS int64
	pgProcs   int
}

func startMonitor(pids map[string]int, postmaster int, every time.Duration) *monitor {
	m := &monitor{pids: pids, postmaster: postmaster, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			m.samplePG()
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *monitor) samplePG() {
	if m.postmaster <= 0 {
		return
	}
	pss, n := pgPSS(m.postmaster)
	m.mu.Lock()
	m.pgPeakPSS = max(m.pgPeakPSS, pss)
	m.pgProcs = max(m.pgProcs, n)
	m.mu.Unlock()
}

// finish stops sampling and returns each process's peak and current memory.
func (m *monitor) finish() (map[string]memFig, int) {
	close(m.stop)
	<-m.done
	out := map[string]memFig{}
	for name, pid := range m.pids {
		if kb, err := statusKB(pid, "VmRSS", "VmHWM"); err == nil {
			out[name] = memFig{Peak: kb["VmHWM"], End: kb["VmRSS"]}
		}
	}
	if m.postmaster > 0 {
		end, n := pgPSS(m.postmaster)
		m.mu.Lock()
		m.pgPeakPSS = max(m.pgPeakPSS, end)
		out["postgres"] = memFig{Peak: m.pgPeakPSS, End: end}
		n = max(n, m.pgProcs)
		m.mu.Unlock()
		return out, n
	}
	return out, 0
}

// cpuSnap is the CPU time used so far by each process of a deployment.
type cpuSnap map[string]time.Duration

func takeCPU(pids map[string]int, postmaster int) cpuSnap {
	s := cpuSnap{}
	for name, pid := range pids {
		if st, err := readStat(pid); err == nil {
			s[name] = st.cpu
		}
	}
	if postmaster > 0 {
		s["postgres"] = pgCPU(postmaster)
	}
	if st, err := readStat(os.Getpid()); err == nil {
		s["driver"] = st.cpu
	}
	s["machine"], s["steal"] = machineCPU()
	return s
}

// sub is the CPU time used between two snapshots.
func (s cpuSnap) sub(before cpuSnap) cpuSnap {
	out := cpuSnap{}
	for k, v := range s {
		out[k] = v - before[k]
	}
	return out
}
