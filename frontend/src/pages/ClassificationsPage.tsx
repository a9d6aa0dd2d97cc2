import { useQuery } from 'urql'
import { Link } from 'wouter'
import { ClassificationsQuery } from '../api/operations'
import { ClassificationBadge, ErrorMessage, Loading } from '../components/ui'

/** ClassificationsPage lists the defined classifications; each links to what carries it. */
export function ClassificationsPage() {
  const [{ data, error }] = useQuery({ query: ClassificationsQuery })
  return (
    <div className="page">
      <h1>Classifications</h1>
      <ErrorMessage error={error} what="Classifications" />
      {!data && !error && <Loading />}
      {data && (
        <table className="grid" aria-label="Classifications">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Description</th>
              <th scope="col">Propagates</th>
              <th scope="col">Carried by</th>
            </tr>
          </thead>
          <tbody>
            {data.classifications.map((d) => (
              <tr key={d.name}>
                <td className={d.parent ? 'indent' : ''}>
                  <ClassificationBadge name={d.name} />
                </td>
                <td>{d.description}</td>
                <td>{d.propagates ? 'yes' : 'no'}</td>
                <td>
                  <Link href={'/search?cls=' + encodeURIComponent(d.name)}>assets with {d.name}</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}
