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
