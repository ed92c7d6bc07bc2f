/**
 * A closed stdout (`sealmix devnet | head`, or a tee stopped by the same Ctrl-C) ends the program
 * through its normal exit path, not a crash: a command that can stop in order registers how.
 */
let onClosed: (() => void) | null = null

export function whenStdoutCloses(f: () => void): void {
  onClosed = f
}

export function watchStdout(exit: () => void): void {
  process.stdout.on('error', () => {
    if (onClosed !== null) onClosed()
    else exit()
  })
}
