package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat. It is
// 100 on every Linux architecture Go supports without cgo's sysconf.
const clockTicks = 100

// statusKB reads fields such as VmRSS and VmHWM (in KiB) from /proc/PID/status.
func statusKB(pid int, fields ...string) (map[string]int64, error) {
	return readKB(fmt.Sprintf("/proc/%d/status", pid), fields)
}

// pssKB reads the proportional set size of pid (KiB): shared pages are
// split among the processes mapping them, so PSS adds up across processes.
func pssKB(pid int) (int64, error) {
	m, err := readKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), []string{"Pss"})
	return m["Pss"], err
}

func readKB(path string, fields []string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make(map[string]int64, len(fields))
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, want := range fields {
			if k == want {
				n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				out[k] = n
			}
		}
	}
	return out, sc.Err()
}

// procStat is what the driver reads from /proc/PID/stat.
type procStat struct {
	ppid int
	// cpu is user+system time; withChildren adds that of reaped children.
	cpu, withChildren time.Duration
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name is in parentheses and may hold spaces: split after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): field k is f[k-3].
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	num := func(k int) int64 { n, _ := strconv.ParseInt(f[k-3], 10, 64); return n }
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
	st := procStat{ppid: int(num(4)), cpu: tick(num(14) + num(15))}
	st.withChildren = st.cpu + tick(num(16)+num(17))
	return st, nil
}

// childrenOf lists the live processes whose parent is ppid.
func childrenOf(ppid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.ppid == ppid {
			out = append(out, pid)
		}
	}
	return out
}

// pgCPU is the CPU time PostgreSQL has used: the postmaster with its
// reaped children plus every live child (backends, walwriter...).
func pgCPU(postmaster int) time.Duration {
	st, err := readStat(postmaster)
	if err != nil {
		return 0
	}
	total := st.withChildren
	for _, pid := range childrenOf(postmaster) {
		if c, err := readStat(pid); err == nil {
			total += c.cpu
		}
	}
	return total
}

// pgPSS sums the PSS of the postmaster and its children, and counts them.
func pgPSS(postmaster int) (int64, int) {
	pids := append([]int{postmaster}, childrenOf(postmaster)...)
	var sum int64
	n := 0
	for _, pid := range pids {
		if kb, err := pssKB(pid); err == nil {
			sum += kb
			n++
		}
	}
	return sum, n
}

// machine describes the host for the report.
type machine struct {
	CPUs     int
	Model    string
	MemTotal string
}

func readMachine(cpus int) machine {
	m := machine{CPUs: cpus, Model: "unknown", MemTotal: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if kb, err := readKB("/proc/meminfo", []string{"MemTotal"}); err == nil && kb["MemTotal"] > 0 {
		m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb["MemTotal"])/(1<<20))
	}
	return m
}

// machineCPU reads /proc/stat: the time all CPUs were busy (not idle or
// waiting for I/O), and the time stolen by the hypervisor.
func machineCPU() (busy, steal time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	var v [8]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
	// user nice system idle iowait irq softirq steal
	return tick(v[0] + v[1] + v[2] + v[5] + v[6]), tick(v[7])
}

// loadAvg is the 1-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
