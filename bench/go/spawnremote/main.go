// Command spawnremote is the Go side of the spawn_remote benchmark (bench/spawn_remote.cpp
// is mnsched's): n empty goroutines are started from "outside" while the main goroutine
// waits for them on a sync.WaitGroup, rounds times. mnsched's side spawns from a plain
// thread outside its runtime (its Gs go to the global queue and an M is woken). Go has no
// threads outside its runtime, so the closest thing here is a goroutine that called
// runtime.LockOSThread: it has an M of its own, which sleeps while it waits for a round
// and must be handed a P to wake, but the goroutines it starts still go to that P's local
// queue (runnext), not to the global queue, so this is not the same path as mnsched's.
// The spawner is started (and locked) before the clock and does every round: the main
// goroutine adds n to the WaitGroup, sends the round on an unbuffered channel the spawner
// waits on, and waits. Each task marks its own slot, so every slot must end at rounds.
// The flags, the rounds, the output and the check are package spawnrounds' (shared with
// spawnmany); this program starts the goroutines.
//
// Usage: spawnremote [-n N] [-rounds R]
//
// GOMAXPROCS is taken from the environment as usual. One line, in the format that
// mnsched's bench/spawn_remote prints too (ns_per_task is the total time over n*rounds):
//
//	spawn_remote system=go procs=<GOMAXPROCS> n=<N> rounds=<R> ms=<wall ms> ns_per_task=<x.x>
//
// Exit status: 0 on success, 1 if a task did not run exactly once per round, 2 on bad
// arguments.
package main

import (
	"mnsched/bench/go/internal/spawnrounds"

	"runtime"
)

func main() {
	spawnrounds.Main("spawn_remote", func(spawn func()) (func(int64), func()) {
		round := make(chan int64) // unbuffered: round k starts when the spawner takes k
		locked := make(chan struct{})
		exited := make(chan struct{})
		go func() { // the spawner, on a thread of its own
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			close(locked)
			for range round {
				spawn()
			}
			close(exited)
		}()
		<-locked
		return func(k int64) { round <- k }, func() {
			close(round)
			<-exited
		}
	})
}
