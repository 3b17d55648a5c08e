/** Notifications: channels, the persisted outbox and its sender, signed webhooks, and their API. */
export { DEFAULT_EVENTS, registerNotificationRoutes, type NotificationRouteDeps } from './notification-routes.ts';
export { FIRST_RETRY_MS, GIVE_UP_AFTER_MS, Notifier, type NotifierDeps, retryDelayMs, routeMatches } from './notifier.ts';
export { REPLAY_WINDOW_SECONDS, SIGNATURE_HEADER, signWebhook, verifyWebhook } from './webhook-signature.ts';
