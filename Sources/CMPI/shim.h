// OpenMPI's handles are macros the Swift importer cannot see; these functions expose them.
#include <mpi.h>

static inline MPI_Comm iumad_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype iumad_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype iumad_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype iumad_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype iumad_mpi_int(void) { return MPI_INT; }
static inline MPI_Datatype iumad_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op iumad_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op iumad_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op iumad_mpi_min(void) { return MPI_MIN; }
static inline MPI_Request iumad_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *iumad_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *iumad_mpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
static inline void *iumad_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int iumad_mpi_success(void) { return MPI_SUCCESS; }
static inline int iumad_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
