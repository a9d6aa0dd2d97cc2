import { describe, expect, it } from 'vitest'
import ELK from 'elkjs/lib/elk.bundled.js'
import { layout } from '../src/lineage/layout'

describe('ELK layout', () => {
  it('lays lineage out left to right without overlaps', async () => {
    const elk = new ELK()
    const ids = ['up', 'root', 'd1', 'd2', 'd3']
    const pos = await layout(
      elk,
      ids.map((id, i) => ({ id, width: 200, height: 50, layer: i - 1 })),
      [
        { id: 'e1', source: 'up', target: 'root' },
        { id: 'e2', source: 'root', target: 'd1' },
        { id: 'e3', source: 'root', target: 'd2' },
        { id: 'e4', source: 'd2', target: 'd3' },
        { id: 'dup', source: 'd2', target: 'd3' },
        { id: 'dangling', source: 'd3', target: 'gone' },
      ],
    )
    expect(pos.size).toBe(5)
    const x = (id: string) => pos.get(id)!.x
    expect(x('up')).toBeLessThan(x('root'))
    expect(x('root')).toBeLessThan(x('d1'))
    expect(x('d2')).toBeLessThan(x('d3'))
    const boxes = [...pos.values()]
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const overlap = Math.abs(boxes[i].x - boxes[j].x) < 200 && Math.abs(boxes[i].y - boxes[j].y) < 50
        expect(overlap).toBe(false)
      }
  })
})

describe('column layout (large graphs)', () => {
  it('puts each hop in its own column and untangles a crossing', async () => {
    const { columnLayout } = await import('../src/lineage/layout')
    const n = (id: string, layer: number) => ({ id, width: 200, height: 50, layer })
    // a→y and b→x cross when both columns are sorted by name; barycentres untangle them.
    const pos = columnLayout([n('a', 0), n('b', 0), n('x', 1), n('y', 1), n('u', -1)], [
      { id: '1', source: 'a', target: 'y' },
      { id: '2', source: 'b', target: 'x' },
      { id: '3', source: 'u', target: 'a' },
    ])
    const p = (id: string) => pos.get(id)!
    expect(p('u').x).toBeLessThan(p('a').x)
    expect(p('a').x).toBe(p('b').x)
    expect(p('x').x).toBeGreaterThan(p('a').x)
    expect(Math.sign(p('a').y - p('b').y)).toBe(Math.sign(p('y').y - p('x').y))
    expect(Math.abs(p('a').y - p('b').y)).toBeGreaterThanOrEqual(50)
  })
})
