/**
 * Nesting depth of parsed JSON, measured without recursion. JSON.parse accepts 100k levels of
 * nesting, but code that later recurses over such a value (schema checks, String(), JSON.stringify)
 * overflows the stack; the gateway and the import reject such records before touching them.
 * Found by test/chaos bad-input-gateway and bad-input-import.
 */

/** Deeper than any event field (record > array > value), with room for nested log formats. */
export const MAX_RECORD_DEPTH = 8

/** Whether `value` nests objects or arrays more than `max` levels deep. */
export function deeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (v === null || typeof v !== 'object') continue
    if (depth > max) return true
    for (const child of Object.values(v as object)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1])
  }
  return false
}
