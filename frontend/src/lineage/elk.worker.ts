// ELK in a web worker: elk-api's worker protocol, served by the bundled ELK.
import ELK from 'elkjs/lib/elk.bundled.js'

const elk = new ELK()
self.onmessage = async (e: MessageEvent<{ id: number; graph: unknown }>) => {
  const { id, graph } = e.data
  try {
    const result = await elk.layout(graph as never)
    ;(self as unknown as Worker).postMessage({ id, result })
  } catch (err) {
    ;(self as unknown as Worker).postMessage({ id, error: String(err) })
  }
}
