/** Small output helpers shared by the commands. */
export function num(n: number): string {
  return n.toLocaleString('en-US');
}

export function pct(x: number): string {
  return `${x.toFixed(2)}%`;
}

export function ptr(n: number): string {
  return `0x${n.toString(16)}`;
}
