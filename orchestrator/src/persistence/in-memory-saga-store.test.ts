import { InMemorySagaStore } from './in-memory-saga-store.ts'
import { CONTRACT_LEASE_MS, describeSagaStoreContract } from './saga-store.contract.ts'

describeSagaStoreContract('in memory', () => new InMemorySagaStore({ leaseTtlMs: CONTRACT_LEASE_MS }))
