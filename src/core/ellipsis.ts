/** `s` cut to at most `max` characters, the last one an ellipsis when anything was cut. */
export function ellipsis(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
