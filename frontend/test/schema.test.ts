import { describe, expect, it } from 'vitest'
import { buildTree, countNodes } from '../src/schema/tree'
import { lineDiff, prettySchema } from '../src/schema/diff'

describe('field tree', () => {
  it('nests by CONTAINS edges, key before value, and ignores cycles and strangers', () => {
    const a = (urn: string, part = 'value') => ({ urn, name: urn.split('/').pop()!, properties: { part } })
    const t = 'urn:topic:p/o'
    const assets = [a('f/after'), a('f/after.email'), a('f/after.id'), a('f/id', 'key'), a('f/op')]
    const edges = [
      { from: t, to: 'f/op' },
      { from: t, to: 'f/after' },
      { from: t, to: 'f/id' },
      { from: 'f/after', to: 'f/after.id' },
      { from: 'f/after', to: 'f/after.email' },
      { from: 'f/after.email', to: 'f/after' }, // a cycle must not loop
      { from: t, to: 'not-loaded' },
    ]
    const tree = buildTree(t, assets, edges)
    expect(tree.map((n) => n.asset.name)).toEqual(['id', 'after', 'op'])
    expect(tree[1].children.map((n) => n.asset.name)).toEqual(['after.email', 'after.id'])
    expect(countNodes(tree)).toBe(5)
  })
})

describe('schema diff', () => {
  it('diffs re-indented JSON so that formatting is not a change', () => {
    const v1 = '{"type":"record","name":"A","fields":[{"name":"id","type":"long"}]}'
    const v2 = JSON.stringify({ type: 'record', name: 'A', fields: [{ name: 'id', type: 'long' }, { name: 'email', type: 'string' }] }, null, 4)
    const d = lineDiff(v1, v2)
    const added = d.filter((l) => l.kind === 'add').map((l) => l.text.trim())
    const removed = d.filter((l) => l.kind === 'del').map((l) => l.text.trim())
    expect(added.join('')).toContain('"email"')
    expect(removed).toEqual([]) // an added field is four added lines, nothing removed
    expect(added).toEqual(['},', '{', '"name": "email",', '"type": "string"'])
    expect(lineDiff(v1, v1).every((l) => l.kind === 'same')).toBe(true)
    // Line numbers count each side.
    const last = d[d.length - 1]
    expect(last.a).toBe(prettySchema(v1).split('\n').length)
    expect(last.b).toBe(prettySchema(v2).split('\n').length)
  })
  it('keeps non-JSON schemas (Protobuf) as written', () => {
    expect(prettySchema('syntax = "proto3";')).toBe('syntax = "proto3";')
  })
})
