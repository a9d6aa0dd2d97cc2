import { describe, expect, it } from 'vitest'
import { assetPath, containerOf, decodeURN, encodeURN, fieldPath, urnFromPath } from '../src/api/urn'
import { kindOf, nameFromURN } from '../src/api/names'

describe('deep links', () => {
  it('keep URNs readable and round-trip them', () => {
    expect(assetPath('urn:topic:prod/orders')).toBe('/asset/urn:topic:prod/orders')
    for (const urn of [
      'urn:topic:prod/cdc.shop.customers',
      'urn:column:postgres://shop-db:5432/shop.public.customers/email',
      'urn:group:prod/billing%20team', // an escaped space stays escaped
      'urn:field:s3://lake/curated%2Fc360/email',
      'urn:dataset:s3://lake/./x/../y',
      'urn:job:flink://prod/a?b#c',
    ]) {
      const path = assetPath(urn)
      expect(urnFromPath(path, '/asset/')).toBe(urn)
      // Nothing a server would clean: no '//' and no dot segments.
      expect(path).not.toMatch(/\/\/|\/\.\.?(\/|$)/)
      expect(path).not.toMatch(/[?#\s]/)
    }
  })
  it('decodes a malformed escape as written', () => {
    expect(decodeURN('urn:topic:prod/%zz')).toBe('urn:topic:prod/%zz')
    expect(encodeURN('a b')).toBe('a%20b')
  })
})

describe('containerOf', () => {
  it.each([
    ['urn:field:prod/orders/value/customer.email', 'urn:topic:prod/orders'],
    ['urn:field:prod/orders/key/id', 'urn:topic:prod/orders'],
    ['urn:column:postgres://h:5432/db.public.t/email', 'urn:table:postgres://h:5432/db.public.t'],
    ['urn:field:s3://lake/curated%2Fcustomer_360/email_hash', 'urn:dataset:s3://lake/curated/customer_360'],
    ['urn:topic:prod/orders', undefined],
  ])('%s → %s', (urn, want) => expect(containerOf(urn)).toBe(want))
  it('names fields and assets known only by URN', () => {
    expect(fieldPath('urn:field:prod/orders/value/customer.email')).toBe('customer.email')
    expect(nameFromURN('urn:topic:prod/orders')).toBe('orders')
    expect(nameFromURN('urn:table:postgres://h:5432/db.public.t')).toBe('db.public.t')
    expect(kindOf('urn:group:prod/x')).toBe('CONSUMER_GROUP')
    expect(kindOf('urn:nope:x')).toBeNull()
  })
})
