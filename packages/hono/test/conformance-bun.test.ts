/** @herald/hono against the conformance suite on Bun (`conformance-runtimes.ts`). */
import { describeOn } from './conformance-runtimes.ts';

describeOn('bun');
