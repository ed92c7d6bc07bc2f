/**
 * A program started by a launcher that runs it in its own process group (the devnet, the audit,
 * the tests) must not outlive that launcher: a launcher killed with SIGKILL cannot stop its
 * children, and relays left running on their own hold ports and cores until someone notices.
 * Such launchers set SEALMIX_EXIT_WITH_PARENT=1; the program then stops, as on SIGTERM, when its
 * parent process is gone (it is re-parented, so its parent pid changes). Linux's parent-death
 * signal is not reachable from Node, so this asks every half second.
 */
export const EXIT_WITH_PARENT = 'SEALMIX_EXIT_WITH_PARENT'

export function watchParent(env: NodeJS.ProcessEnv = process.env): void {
  if (env[EXIT_WITH_PARENT] !== '1') return
  const parent = process.ppid
  const timer = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(timer)
    console.error('sealmix: the program that started this one has exited; stopping')
    process.kill(process.pid, 'SIGTERM')
  }, 500)
  timer.unref()
}
