export { AppError, isAppError, type AppErrorOptions, type ErrorCode, type ErrorCodes } from './errors.ts';
export { createLogger, redact, silentLogger, type Logger, type LoggerOptions } from './logger.ts';
export { systemClock, type Clock } from './clock.ts';
export { deriveKey } from './derive.ts';
export { createCloseStack, type CloseStack } from './lifecycle.ts';
