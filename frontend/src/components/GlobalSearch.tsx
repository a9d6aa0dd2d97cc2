// The header's search box: `/` focuses it from anywhere, results appear as
// you type, arrows move, Enter opens, Enter on nothing opens the full search.
import { useEffect, useId, useRef, useState } from 'react'
import { useQuery } from 'urql'
import { useLocation } from 'wouter'
import { SearchQuery } from '../api/operations'
import { assetPath } from '../api/urn'
import { useDebounced } from './useDebounced'
import { Badges, KindIcon, kindLabels } from './ui'

export function GlobalSearch() {
  const [text, setText] = useState('')
  const [open, setOpen] = useState(false)
  const [active, setActive] = useState(-1)
  const [, navigate] = useLocation()
  const input = useRef<HTMLInputElement>(null)
  const listId = useId()
  const q = useDebounced(text.trim(), 120)
  const [{ data, fetching }] = useQuery({ query: SearchQuery, variables: { query: q, first: 8 }, pause: q === '' })
  const items = q === '' ? [] : (data?.search.edges.map((e) => e.node) ?? [])

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement
      const typing = t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable
      if (e.key === '/' && !typing && !e.metaKey && !e.ctrlKey) {
        e.preventDefault()
        input.current?.focus()
        input.current?.select()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
  useEffect(() => setActive(-1), [q])

  const go = (href: string) => {
    setOpen(false)
    input.current?.blur()
    navigate(href)
  }
  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault()
      setOpen(true)
      setActive((a) => Math.min(a + 1, items.length - 1))
    } else if (e.key === 'ArrowUp') {
      e.preventDefault()
      setActive((a) => Math.max(a - 1, -1))
    } else if (e.key === 'Enter') {
      e.preventDefault()
      if (active >= 0 && items[active]) go(assetPath(items[active].urn))
      else go('/search?q=' + encodeURIComponent(text.trim()))
    } else if (e.key === 'Escape') {
      setOpen(false)
      input.current?.blur()
    }
  }
  const showList = open && q !== ''
  return (
    <div className="global-search" role="search">
      <label htmlFor="global-search-input" className="sr-only">
        Search the catalog
      </label>
      <input
        id="global-search-input"
        ref={input}
        type="search"
        placeholder="Search topics, fields, tables…  ( / )"
        autoComplete="off"
        spellCheck={false}
        role="combobox"
        aria-expanded={showList}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={active >= 0 ? `${listId}-${active}` : undefined}
        value={text}
        onChange={(e) => {
          setText(e.target.value)
          setOpen(true)
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={onKeyDown}
      />
      {showList && (
        <ul id={listId} role="listbox" className="suggestions" aria-label="Search results">
          {items.length === 0 && <li className="muted empty">{fetching ? 'Searching…' : 'No match. Enter searches everything.'}</li>}
          {items.map((a, i) => (
            <li
              key={a.urn}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'active' : ''}
              onMouseDown={(e) => {
                e.preventDefault()
                go(assetPath(a.urn))
              }}
              onMouseEnter={() => setActive(i)}
            >
              <KindIcon kind={a.kind} decorative />
              <span className="s-name">{a.name}</span>
              <span className="s-kind">{kindLabels[a.kind]}</span>
              <Badges asset={a} />
              <span className="s-urn">{a.urn}</span>
            </li>
          ))}
          {data && data.search.totalCount > items.length && (
            <li className="more" role="option" aria-selected={false} onMouseDown={() => go('/search?q=' + encodeURIComponent(q))}>
              All {data.search.totalCount} results →
            </li>
          )}
        </ul>
      )}
    </div>
  )
}
