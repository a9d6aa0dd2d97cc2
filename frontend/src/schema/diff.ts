import { diffLines } from 'diff'

export interface DiffLine {
  kind: 'add' | 'del' | 'same'
  text: string
  /** line numbers in the old and new text (1-based), when the line is there */
  a?: number
  b?: number
}

/** prettySchema re-indents JSON schemas (Avro, JSON Schema) so diffs align; other text is kept. */
export function prettySchema(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}

/** lineDiff returns the line diff of two schema texts. */
export function lineDiff(before: string, after: string): DiffLine[] {
  const out: DiffLine[] = []
  let a = 1
  let b = 1
  for (const part of diffLines(prettySchema(before), prettySchema(after))) {
    const lines = part.value.replace(/\n$/, '').split('\n')
    for (const text of lines) {
      if (part.added) out.push({ kind: 'add', text, b: b++ })
      else if (part.removed) out.push({ kind: 'del', text, a: a++ })
      else out.push({ kind: 'same', text, a: a++, b: b++ })
    }
  }
  return out
}
