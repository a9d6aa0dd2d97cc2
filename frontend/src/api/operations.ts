// Every GraphQL operation the UI sends. graphql-codegen turns each into a
// TypedDocumentNode in src/gql (run `npm run codegen` after editing), so a
// field that schema.graphql does not have fails the build, not the browser.
import { graphql } from '../gql'

export const AssetSummaryFields = graphql(`
  fragment AssetSummary on Asset {
    urn
    kind
    name
    description
    deleted
    classifications {
      name
      direct
      source
      origin
    }
  }
`)

export const SearchQuery = graphql(`
  query Search($query: String, $kinds: [AssetKind!], $classifications: [String!], $includeDeleted: Boolean, $first: Int, $after: String) {
    search(query: $query, kinds: $kinds, classifications: $classifications, includeDeleted: $includeDeleted, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        cursor
        node {
          ...AssetSummary
          sources
          updatedAt
        }
      }
    }
  }
`)

export const KindFacetsQuery = graphql(`
  query KindFacets($query: String, $classifications: [String!], $includeDeleted: Boolean) {
    all: search(query: $query, classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    TOPIC: search(query: $query, kinds: [TOPIC], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    FIELD: search(query: $query, kinds: [FIELD], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    CONSUMER_GROUP: search(query: $query, kinds: [CONSUMER_GROUP], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    CONNECTOR: search(query: $query, kinds: [CONNECTOR], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    TABLE: search(query: $query, kinds: [TABLE], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    COLUMN: search(query: $query, kinds: [COLUMN], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    DATASET: search(query: $query, kinds: [DATASET], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    JOB: search(query: $query, kinds: [JOB], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    PRINCIPAL: search(query: $query, kinds: [PRINCIPAL], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    SCHEMA_SUBJECT: search(query: $query, kinds: [SCHEMA_SUBJECT], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    SCHEMA_VERSION: search(query: $query, kinds: [SCHEMA_VERSION], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    DATABASE: search(query: $query, kinds: [DATABASE], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    KAFKA_CLUSTER: search(query: $query, kinds: [KAFKA_CLUSTER], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    BROKER: search(query: $query, kinds: [BROKER], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    SCHEMA_REGISTRY: search(query: $query, kinds: [SCHEMA_REGISTRY], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
    CONNECT_CLUSTER: search(query: $query, kinds: [CONNECT_CLUSTER], classifications: $classifications, includeDeleted: $includeDeleted, first: 0) { totalCount }
  }
`)

export const ClassificationsQuery = graphql(`
  query Classifications {
    classifications {
      name
      description
      propagates
      parent
    }
  }
`)

export const NeighborFields = graphql(`
  fragment NeighborFields on Neighbor {
    edge {
      from
      to
      kind
      confidence
      masking
      block
      claims {
        source
        origin
        confidence
        transform
        masking
        firstSeen
        lastSeen
      }
    }
    asset {
      ...AssetSummary
      properties
      live
    }
  }
`)

export const AssetQuery = graphql(`
  query Asset($urn: URN!) {
    asset(urn: $urn) {
      ...AssetSummary
      owners
      properties
      live
      sources
      createdAt
      updatedAt
      deletedAt
      classifications {
        name
        direct
        source
        propagate
        origin
        path
        actor
        at
      }
      upstream(first: 500) {
        ...NeighborFields
      }
      downstream(first: 500) {
        ...NeighborFields
      }
    }
  }
`)

export const LiveQuery = graphql(`
  query Live($urn: URN!) {
    asset(urn: $urn) {
      urn
      live
      consumers: downstream(kinds: [CONSUMES], first: 500) {
        asset {
          urn
          kind
          live
        }
      }
    }
  }
`)

export const ChildrenQuery = graphql(`
  query Children($urn: URN!) {
    lineage(urn: $urn, direction: DOWNSTREAM, edgeKinds: [CONTAINS], depth: 0, limit: 2000) {
      truncated
      nodes {
        depth
        path
        asset {
          ...AssetSummary
          properties
        }
      }
      edges {
        from
        to
      }
    }
  }
`)

export const LineageFields = graphql(`
  fragment LineageFields on Lineage {
    truncated
    root {
      ...AssetSummary
    }
    nodes {
      depth
      path
      asset {
        ...AssetSummary
      }
    }
    edges {
      from
      to
      kind
      confidence
      masking
      block
      deletedAt
      claims {
        source
        origin
        confidence
        transform
        masking
        firstSeen
        lastSeen
      }
    }
  }
`)

export const LineageQuery = graphql(`
  query Lineage($urn: URN!, $depth: Int, $at: Time, $edgeKinds: [EdgeKind!], $limit: Int) {
    down: lineage(urn: $urn, direction: DOWNSTREAM, depth: $depth, at: $at, edgeKinds: $edgeKinds, limit: $limit) {
      ...LineageFields
    }
    up: lineage(urn: $urn, direction: UPSTREAM, depth: $depth, at: $at, edgeKinds: $edgeKinds, limit: $limit) {
      ...LineageFields
    }
  }
`)

export const SourcesQuery = graphql(`
  query Sources {
    sources {
      name
      kind
      schedule
      running
      nextRun
      lastRun {
        ...CrawlRunFields
      }
    }
  }
`)

export const CrawlRunFields = graphql(`
  fragment CrawlRunFields on CrawlRun {
    urn
    source
    kind
    trigger
    status
    startedAt
    durationMs
    counts
    created
    updated
    deleted
    edgesAdded
    edgesRemoved
    kept
    changes
    errors
  }
`)

export const CrawlRunsQuery = graphql(`
  query CrawlRuns($source: String, $first: Int) {
    crawlRuns(source: $source, first: $first) {
      ...CrawlRunFields
    }
  }
`)

export const RecentChangesQuery = graphql(`
  query RecentChanges($after: String, $first: Int) {
    changes(after: $after, first: $first) {
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          ...ChangeFields
        }
      }
    }
  }
`)

export const ChangeFields = graphql(`
  fragment ChangeFields on Change {
    id
    type
    subject
    time
    source
    actor
    data
  }
`)

export const ChangesSubscription = graphql(`
  subscription Changes($types: [String!], $subject: String, $after: String) {
    changes(types: $types, subject: $subject, after: $after) {
      ...ChangeFields
    }
  }
`)

export const CrawlMutation = graphql(`
  mutation Crawl($source: String!) {
    crawl(source: $source) {
      ...CrawlRunFields
    }
  }
`)

export const ClassifyMutation = graphql(`
  mutation Classify($urn: URN!, $classification: String!, $propagate: Boolean) {
    classify(urn: $urn, classification: $classification, propagate: $propagate) {
      urn
      classifications {
        name
        direct
        source
        propagate
        origin
        path
        actor
        at
      }
    }
  }
`)

export const DeclassifyMutation = graphql(`
  mutation Declassify($urn: URN!, $classification: String!) {
    declassify(urn: $urn, classification: $classification) {
      urn
      classifications {
        name
        direct
        source
        propagate
        origin
        path
        actor
        at
      }
    }
  }
`)

export const SetDescriptionMutation = graphql(`
  mutation SetDescription($urn: URN!, $description: String!) {
    setDescription(urn: $urn, description: $description) {
      urn
      description
    }
  }
`)

export const SetOwnersMutation = graphql(`
  mutation SetOwners($urn: URN!, $owners: [String!]!) {
    setOwners(urn: $urn, owners: $owners) {
      urn
      owners
    }
  }
`)

export const WebhookFields = graphql(`
  fragment WebhookFields on Webhook {
    id
    name
    url
    description
    types
    filter {
      classification
      urn
      downstreamOf
      hops
      ownedBy
    }
    format
    enabled
    disabledReason
    disabledAt
    activeSecrets
    rotatingUntil
    failingSince
    lastSuccessAt
    createdAt
    updatedAt
    pending
  }
`)

export const WebhooksQuery = graphql(`
  query Webhooks {
    webhooks {
      ...WebhookFields
    }
  }
`)

export const WebhookQuery = graphql(`
  query Webhook($id: ID!) {
    webhook(id: $id) {
      ...WebhookFields
      attempts(first: 100) {
        webhookId
        change
        type
        number
        at
        status
        latencyMs
        error
        response
        outcome
      }
      deadLetters(first: 100) {
        webhookId
        change
        type
        subject
        attempts
        createdAt
        lastError
        lastStatus
        deadAt
      }
    }
  }
`)

export const CreateWebhookMutation = graphql(`
  mutation CreateWebhook($input: CreateWebhookInput!) {
    createWebhook(input: $input) {
      secret
      webhook {
        ...WebhookFields
      }
    }
  }
`)

export const UpdateWebhookMutation = graphql(`
  mutation UpdateWebhook($id: ID!, $input: UpdateWebhookInput!) {
    updateWebhook(id: $id, input: $input) {
      ...WebhookFields
    }
  }
`)

export const DeleteWebhookMutation = graphql(`
  mutation DeleteWebhook($id: ID!) {
    deleteWebhook(id: $id)
  }
`)

export const RotateWebhookSecretMutation = graphql(`
  mutation RotateWebhookSecret($id: ID!, $overlapSeconds: Int) {
    rotateWebhookSecret(id: $id, overlapSeconds: $overlapSeconds)
  }
`)

export const ReplayDeadLettersMutation = graphql(`
  mutation ReplayDeadLetters($webhook: ID!) {
    replayDeadLetters(webhook: $webhook)
  }
`)

export const ImpactedFields = graphql(`
  fragment ImpactedFields on ImpactedAsset {
    hops
    path
    exact
    fields
    state
    lag
    asset {
      ...AssetSummary
      owners
    }
  }
`)

export const ImpactQuery = graphql(`
  query Impact($urn: URN!, $depth: Int, $limit: Int) {
    impact(urn: $urn, depth: $depth, limit: $limit) {
      level
      truncated
      seq
      root {
        ...AssetSummary
      }
      consumerGroups {
        ...ImpactedFields
      }
      connectors {
        ...ImpactedFields
      }
      jobs {
        ...ImpactedFields
      }
      datasets {
        ...ImpactedFields
      }
      topics {
        ...ImpactedFields
      }
      fields {
        ...ImpactedFields
      }
      other {
        ...ImpactedFields
      }
    }
  }
`)

export const SubjectsQuery = graphql(`
  query Subjects($query: String) {
    search(query: $query, kinds: [SCHEMA_SUBJECT], first: 200) {
      totalCount
      edges {
        node {
          urn
          name
          properties
        }
      }
    }
  }
`)

export const SubjectSchemaQuery = graphql(`
  query SubjectSchema($urn: URN!) {
    asset(urn: $urn) {
      urn
      name
      properties
      versions: downstream(kinds: [HAS_SCHEMA], first: 500) {
        asset {
          urn
          kind
          properties
        }
      }
      topics: upstream(kinds: [HAS_SCHEMA], first: 20) {
        asset {
          urn
          kind
          name
          deleted
        }
      }
    }
  }
`)

export const SchemaChangeImpactQuery = graphql(`
  query SchemaChangeImpact($subject: String!, $schema: String!, $schemaType: SchemaType, $registry: String) {
    schemaChangeImpact(subject: $subject, schema: $schema, schemaType: $schemaType, registry: $registry) {
      schemaType
      latestVersion
      breaking
      seq
      subject {
        urn
        kind
        name
        deleted
      }
      compatibility {
        level
        levelSource
        compatible
        messages
        checked
        readersCompatible
        readerMessages
      }
      changes {
        path
        kind
        previousPath
        field
        breaking
        before {
          type
          nullable
          hasDefault
          default
        }
        after {
          type
          nullable
          hasDefault
          default
        }
      }
      consumers {
        verdict
        fields
        reason
        fieldLineage
        hops
        path
        asset {
          ...AssetSummary
          owners
        }
      }
    }
  }
`)

export const PreviewClassificationQuery = graphql(`
  query PreviewClassification($urn: URN!, $classification: String!, $first: Int) {
    previewClassification(urn: $urn, classification: $classification, first: $first) {
      origin
      classification
      propagates
      totalCount
      reached {
        mode
        path
        asset {
          urn
          kind
          name
          deleted
        }
      }
    }
  }
`)

export const ExplainClassificationQuery = graphql(`
  query ExplainClassification($urn: URN!, $classification: String!) {
    explainClassification(urn: $urn, classification: $classification) {
      classification
      source
      direct
      mode
      path
      origin {
        urn
        kind
        name
        deleted
      }
      hops {
        from
        to
        containment
        edge {
          kind
          masking
          claims {
            source
            origin
            transform
          }
        }
      }
    }
  }
`)

export const ViolationFields = graphql(`
  fragment ViolationFields on Violation {
    urn
    policy
    severity
    status
    subjectUrn
    message
    evidence
    classifications
    openedAt
    firstOpenedAt
    resolvedAt
    acknowledgedBy
    acknowledgedAt
    acknowledgeNote
    mutedBy
    mutedAt
    mutedUntil
    muteReason
    subject {
      urn
      kind
      name
      deleted
      owners
    }
  }
`)

export const ViolationsQuery = graphql(`
  query Violations($status: ViolationStatus, $policy: String, $first: Int, $after: String) {
    violations(status: $status, policy: $policy, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          ...ViolationFields
        }
      }
    }
    policies {
      name
      severity
      description
      openViolations
      enabled
    }
  }
`)

export const AcknowledgeViolationMutation = graphql(`
  mutation AcknowledgeViolation($urn: URN!, $note: String) {
    acknowledgeViolation(urn: $urn, note: $note) {
      ...ViolationFields
    }
  }
`)

export const MuteViolationMutation = graphql(`
  mutation MuteViolation($urn: URN!, $until: Time, $reason: String) {
    muteViolation(urn: $urn, until: $until, reason: $reason) {
      ...ViolationFields
    }
  }
`)

export const UnmuteViolationMutation = graphql(`
  mutation UnmuteViolation($urn: URN!) {
    unmuteViolation(urn: $urn) {
      ...ViolationFields
    }
  }
`)

export const ViolationCountsQuery = graphql(`
  query ViolationCounts {
    unresolved: violations(first: 0) {
      totalCount
    }
    new: violations(status: OPEN, first: 0) {
      totalCount
    }
  }
`)
