// Explaining paths (impact, schema check, propagation): each step a link
// named by its asset, fields and columns with their dataset.
import { Link } from 'wouter'
import { assetPath, containerOf, fieldPath } from '../api/urn'
import { kindOf, nameFromURN } from '../api/names'
import { KindIcon } from './ui'

/** PathSteps shows an explaining path compactly, each step linking its asset. */
export function PathSteps({ path, label = 'Path' }: { path: readonly string[]; label?: string }) {
  if (path.length === 0) return <span className="muted">—</span>
  return (
    <ol className="steps" aria-label={label}>
      {path.map((p, i) => (
        <li key={p + i}>
          <Link href={assetPath(p)} title={p}>
            <KindIcon kind={kindOf(p) ?? 'DATASET'} decorative />
            {stepName(p)}
          </Link>
        </li>
      ))}
    </ol>
  )
}

/** stepName names a path step from its URN: fields and columns with their dataset. */
export function stepName(urn: string): string {
  const c = kindOf(urn) === 'FIELD' || kindOf(urn) === 'COLUMN' ? containerOf(urn) : undefined
  return c ? nameFromURN(c) + ' › ' + fieldPath(urn) : nameFromURN(urn)
}

