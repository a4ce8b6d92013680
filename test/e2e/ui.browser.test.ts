import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { randomUUID } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { command, isoDateInDays } from '../support/participant-harness.ts'
import { launchChromium } from '../support/browser.ts'
import { startSystem, TOKENS, type TestSystem } from '../support/system.ts'
import { defineSaga } from '../../orchestrator/src/engine/saga-definition.ts'
import { SagaRegistry } from '../../orchestrator/src/engine/saga-registry.ts'
import { tourBookingSaga } from '../../orchestrator/src/sagas/tour-booking/tour-booking.saga.ts'

const ARTIFACTS = path.resolve(import.meta.dirname, '../artifacts')

// Undo gives up fast, so a saga reaches COMPENSATION_FAILED within the test.
const FAST = { maxAttempts: 2, initialDelayMs: 20, multiplier: 2, maxDelayMs: 50 }
const registry = new SagaRegistry().register(defineSaga({
  ...tourBookingSaga,
  steps: tourBookingSaga.steps.map((step) => ({ ...step, compensationRetry: FAST })),
}))

describe('the support page at /ui', () => {
  let system: TestSystem
  let browser: Browser
  let base: string
  let sagaId: string
  let tourId: string
  const userId = `ui-${randomUUID().slice(0, 8)}`

  beforeAll(async () => {
    system = await startSystem({ registry })
    base = await system.orchestrator.listen({ port: 0, host: '127.0.0.1' })
    browser = await launchChromium()
    // A booking whose card is declined and whose spots cannot be released: it parks in
    // COMPENSATION_FAILED, the kind of saga an operator is called for.
    const tour = (await command(system.participant('tour-catalog'), 'POST', '/api/tours', {
      name: 'Fjord cruise', date: isoDateInDays(30), capacity: 50, price: 60, currency: 'EUR', cancellationPolicy: { minDays: 3, feePercent: 0 },
    })).json()
    tourId = tour.tourId
    system.inject({ participant: 'tour-catalog', route: '/api/reservations/:reservationId/release', status: 503 })
    const response = await system.orchestrator.inject({
      method: 'POST', url: '/api/orchestrator/bookings',
      headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
      payload: { tourId: tour.tourId, userId, numberOfSpots: 2, paymentMethod: 'pm_card_chargeDeclined' },
    })
    expect(response.json().status).toBe('COMPENSATION_FAILED')
    sagaId = response.json().sagaId
  })

  afterAll(async () => {
    await browser?.close()
    await system?.close()
  })

  async function signIn(token: string): Promise<Page> {
    const page = await browser.newPage()
    await page.goto(`${base}/ui`)
    await page.getByLabel('API token').fill(token)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => page.locator('#who').textContent()).toMatch(/Signed in as/)
    return page
  }

  it('lets an operator find the failed saga, read its compensation steps and retry it', async () => {
    const page = await signIn('dev-operator')
    // Find it: filter by status and user.
    await page.getByLabel('Status', { exact: true }).selectOption('COMPENSATION_FAILED')
    await page.getByLabel('User', { exact: true }).fill(userId)
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByRole('link', { name: sagaId.slice(0, 8) }).click()

    // Its timeline: forward steps, then the undo in reverse order, with the failing one's error.
    const timeline = page.locator('#timeline li')
    await expect.poll(() => timeline.count()).toBe(5)
    const lines = await timeline.allTextContents()
    expect(lines[2]).toMatch(/processPayment.*forward.*REJECTED/s)
    expect(lines[3]).toMatch(/createBooking.*compensation.*SUCCEEDED/s)
    expect(lines[4]).toMatch(/reserveTour.*compensation.*FAILED.*INJECTED_FAULT/s)
    await expect.poll(() => page.locator('#saga-error').textContent()).toMatch(/PAYMENT_DECLINED/)
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: path.join(ARTIFACTS, 'saga-timeline.png'), fullPage: true })

    // Retry, once the catalog works again: give a reason in the dialog, and watch it settle live.
    system.clearFaults()
    page.once('dialog', (dialog) => void dialog.accept('catalog is back'))
    await page.getByRole('button', { name: 'Retry' }).click()
    await expect.poll(() => page.locator('#saga-title .status').textContent(), { timeout: 15_000 }).toBe('FAILED')
    expect(await page.locator('#timeline li').last().textContent()).toMatch(/reserveTour.*compensation.*SUCCEEDED/s)
    await page.screenshot({ path: path.join(ARTIFACTS, 'saga-timeline-after-retry.png'), fullPage: true })
    // The event log says who retried it, and why.
    await expect.poll(() => page.locator('#log').textContent()).toMatch(/OPERATOR_RETRY.*by operator:.*catalog is back/s)
    await page.close()
  })

  /** A paid booking whose loyalty points are refused for good: it parks after the pivot. */
  async function parkedBooking(): Promise<string> {
    system.clearFaults()
    const fault = system.inject({ participant: 'loyalty', route: '/api/loyalty/accounts/:userId/points', status: 400, body: { error: { code: 'VALIDATION_FAILED', message: 'amount is too large' } } })
    const response = await system.orchestrator.inject({
      method: 'POST', url: '/api/orchestrator/bookings',
      headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
      payload: { tourId, userId, numberOfSpots: 1, paymentMethod: 'pm_card_visa' },
    })
    expect(response.statusCode).toBe(202)
    expect(response.json()).toMatchObject({ status: 'PARKED', incident: { step: 'awardLoyaltyPoints', code: 'VALIDATION_FAILED' } })
    expect(fault.hits).toBe(1)
    return response.json().sagaId
  }

  it('shows a parked saga\'s incident and lets an operator skip the step by hand', async () => {
    const parked = await parkedBooking()
    const page = await signIn('dev-operator')
    await page.goto(`${base}/ui#/?status=PARKED&step=awardLoyaltyPoints`)
    await page.getByRole('link', { name: parked.slice(0, 8) }).click()
    await expect.poll(() => page.locator('#saga-incident').textContent()).toMatch(/VALIDATION_FAILED at awardLoyaltyPoints/)
    expect(await page.getByRole('button', { name: 'Abort' }).count()).toBe(0)
    page.once('dialog', (dialog) => void dialog.accept('points granted by hand'))
    await page.getByRole('button', { name: 'Skip step' }).click()
    await expect.poll(() => page.locator('#saga-title .status').textContent(), { timeout: 15_000 }).toBe('COMPLETED')
    expect(await page.locator('#timeline').textContent()).toMatch(/awardLoyaltyPoints.*SKIPPED/s)
    await expect.poll(() => page.locator('#log').textContent()).toMatch(/OPERATOR_SKIP.*points granted by hand/s)
    system.clearFaults()
    await page.close()
  })

  it('lets an operator retry a parked step once its participant is fixed: a new generation of the command', async () => {
    const parked = await parkedBooking()
    system.clearFaults()
    const page = await signIn('dev-operator')
    await page.goto(`${base}/ui#/sagas/${parked}`)
    await expect.poll(() => page.locator('#saga-title .status').textContent()).toBe('PARKED')
    page.once('dialog', (dialog) => void dialog.accept(''))
    await page.getByRole('button', { name: 'Retry' }).click()
    await expect.poll(() => page.locator('#saga-title .status').textContent(), { timeout: 15_000 }).toBe('COMPLETED')
    const points = await system.db.loyaltyTransaction.findMany({ where: { userId, kind: 'EARN' } })
    expect(points.length).toBeGreaterThanOrEqual(1)
    await page.close()
  })

  it('refuses skip and retry to support staff, in the page and in the API', async () => {
    const parked = await parkedBooking()
    const page = await signIn('dev-support')
    await page.goto(`${base}/ui#/sagas/${parked}`)
    await expect.poll(() => page.locator('#saga-incident').textContent()).toMatch(/VALIDATION_FAILED/)
    expect(await page.locator('#actions button').count()).toBe(0)
    const refused = await page.evaluate(async (id) => Promise.all(['skip', 'retry'].map(async (action) => {
      const response = await fetch(`/api/orchestrator/sagas/${id}/${action}`, { method: 'POST', headers: { authorization: 'Bearer dev-support', 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'trying' }) })
      return { status: response.status, code: ((await response.json()) as { error?: { code?: string } }).error?.code }
    })), parked)
    expect(refused).toEqual([{ status: 403, code: 'FORBIDDEN' }, { status: 403, code: 'FORBIDDEN' }])
    expect((await system.orchestrator.orchestrator.getSaga(parked)).status).toBe('PARKED')
    system.clearFaults()
    await page.close()
  })

  it('shows support staff no retry or abort, and the API refuses them', async () => {
    const page = await signIn('dev-support')
    await page.goto(`${base}/ui#/sagas/${sagaId}`)
    await expect.poll(() => page.locator('#timeline li').count()).toBeGreaterThan(0)
    expect(await page.getByRole('button', { name: 'Retry' }).isVisible()).toBe(false)
    expect(await page.getByRole('button', { name: 'Abort' }).isVisible()).toBe(false)
    const refused = await page.evaluate(async (id) => {
      const response = await fetch(`/api/orchestrator/sagas/${id}/retry`, { method: 'POST', headers: { authorization: 'Bearer dev-support' } })
      return { status: response.status, body: await response.json() }
    }, sagaId)
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } })
    await page.close()
  })

  it('shows support staff the tour\'s analytics figures on a tour booking\'s page, within the strict CSP', async () => {
    const tour = (await command(system.participant('tour-catalog'), 'POST', '/api/tours', {
      name: 'Lagoon swim', date: isoDateInDays(30), capacity: 10, price: 25, currency: 'EUR', cancellationPolicy: { minDays: 3, feePercent: 0 },
    })).json() as { tourId: string }
    const booked = await system.orchestrator.inject({
      method: 'POST', url: '/api/orchestrator/bookings', headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
      payload: { tourId: tour.tourId, userId, numberOfSpots: 2, paymentMethod: 'pm_card_visa' },
    })
    expect(booked.json().status).toBe('COMPLETED')
    const page = await signIn('dev-support')
    const violations: string[] = []
    page.on('console', (message) => { if (/Content Security Policy/i.test(message.text())) violations.push(message.text()) })
    await page.goto(`${base}/ui#/sagas/${booked.json().sagaId}`)
    await expect.poll(() => page.locator('#tour-analytics').isVisible()).toBe(true)
    // booking.confirmed reaches analytics through the outbox and the stream: a moment later.
    await expect.poll(async () => {
      await page.reload()
      return page.locator('#tour-figures').textContent()
    }, { timeout: 20_000, interval: 500 }).toMatch(/Bookings1Cancellations0Cancellation rate0\.0 %Revenue50\.00 EURRefunded0\.00 EUR/)
    expect(await page.locator('#tour-figures').textContent()).toContain(tour.tourId)
    expect(violations).toEqual([])
    await page.close()
  })

  it('refuses an unknown token at sign-in', async () => {
    const page = await browser.newPage()
    await page.goto(`${base}/ui`)
    await page.getByLabel('API token').fill('not-a-token')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => page.locator('#sign-in-error').textContent()).toMatch(/not accepted/)
    await page.close()
  })
})
