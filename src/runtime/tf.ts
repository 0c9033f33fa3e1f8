/**
 * The one door to TensorFlow.js: every ftc module imports tfjs from here, never from a package.
 *
 * Why one door: the native backends (tfjs-node, tfjs-node-gpu) depend on `@tensorflow/tfjs`, which may
 * install its own nested copy of tfjs-core. tfjs-core 4.x keeps its engine (`_tfengine`) and its kernel and
 * gradient registries on the global namespace, so every copy shares them; backend.ts checks after loading a
 * native backend that it really registered with the engine this module re-exports.
 * Node resolves `@tensorflow/tfjs-core` to its CommonJS build (package `main`), the same file the wasm and
 * cpu backends `require`, so ESM and CJS users see one module instance.
 */
export * from '@tensorflow/tfjs-core';

// tfjs-core's CommonJS build registers no gradients (its dist/register_all_gradients is ESM with
// extensionless imports that Node cannot load). The union package's Node bundle registers all of them
// into the shared registry; importing it once here is what makes tf.grad/variableGrads work.
import '@tensorflow/tfjs';
