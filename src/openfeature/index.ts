// `nestjs-posthog-flags/openfeature`: the OpenFeature provider. Needs `@openfeature/server-sdk`.
export {
  PostHogFlagsProvider,
  type PostHogFlagsProviderOptions,
  type PostHogFlagsContainer,
} from './posthog-flags.provider.js';
export { attachPostHogFlagsProvider } from './nest-binding.js';
