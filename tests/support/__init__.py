"""What the tests (and the benchmarks) share: the harness, a real process, images, the digest's clock. Test modules
import from here, never from each other or from conftest."""
