/** @herald/hono against the conformance suite on Deno (`conformance-runtimes.ts`). */
import { describeOn } from './conformance-runtimes.ts';

describeOn('deno');
