export { parseForm, parseMultipart, type MultipartLimits, type MultipartBody, type UploadedFile } from './body.ts';
export { createCsrf, type Csrf } from './csrf.ts';
export { errorHandler } from './errors.ts';
export { wantsJson } from './negotiate.ts';
export { securityHeaders, noStore } from './security.ts';
export { staticFiles } from './static.ts';
export { createViews, VIEWS_DIR, type Views } from './views.ts';
