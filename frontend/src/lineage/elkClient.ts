// A minimal ELK facade over our worker (elk.worker.ts): layout() only.
import type { ELK, ElkNode } from 'elkjs/lib/elk-api'

export function workerELK(): ELK {
  let worker: Worker | null = null
  let seq = 0
  const waiting = new Map<number, { resolve: (n: ElkNode) => void; reject: (e: Error) => void }>()
  const get = () => {
    if (!worker) {
      worker = new Worker(new URL('./elk.worker.ts', import.meta.url), { type: 'module' })
      worker.onmessage = (e: MessageEvent<{ id: number; result?: ElkNode; error?: string }>) => {
        const w = waiting.get(e.data.id)
        if (!w) return
        waiting.delete(e.data.id)
        if (e.data.error) w.reject(new Error('layout: ' + e.data.error))
        else w.resolve(e.data.result!)
      }
      worker.onerror = (e) => {
        for (const w of waiting.values()) w.reject(new Error('layout worker: ' + e.message))
        waiting.clear()
        worker?.terminate()
        worker = null
      }
    }
    return worker
  }
  return {
    layout: (graph: ElkNode) =>
      new Promise<ElkNode>((resolve, reject) => {
        const id = ++seq
        waiting.set(id, { resolve, reject })
        get().postMessage({ id, graph })
      }),
    knownLayoutAlgorithms: () => Promise.reject(new Error('not supported')),
    knownLayoutOptions: () => Promise.reject(new Error('not supported')),
    knownLayoutCategories: () => Promise.reject(new Error('not supported')),
    terminateWorker: () => worker?.terminate(),
  } as unknown as ELK
}
