/*
 * layout.c - print the C layout of the structures the Python binding
 * mirrors with ctypes (sizes and field offsets, one "struct field offset"
 * line each), so that python/tests/test_layout.py can compare them.
 */
#include <stddef.h>
#include <stdio.h>

#include <errseq/client.h>

#define F(s, f) printf("%s %s %zu\n", #s, #f, offsetof(struct s, f))
#define SIZE(s) printf("%s sizeof %zu\n", #s, sizeof(struct s))

int main(void)
{
	SIZE(errseq_slot_info);
	F(errseq_slot_info, name);
	F(errseq_slot_info, index);
	F(errseq_slot_info, generation);
	F(errseq_slot_info, value);
	F(errseq_slot_info, sets_total);
	F(errseq_slot_info, last_set_ns);
	F(errseq_slot_info, last_pid);
	F(errseq_slot_info, creator_uid);
	F(errseq_slot_info, holders);
	F(errseq_slot_info, created_ns);
	F(errseq_slot_info, writers_gid);
	F(errseq_slot_info, writable);
	SIZE(errseq_daemon_status);
	F(errseq_daemon_status, pid);
	F(errseq_daemon_status, version);
	F(errseq_daemon_status, start_ns);
	F(errseq_daemon_status, uptime_ns);
	F(errseq_daemon_status, capacity);
	F(errseq_daemon_status, slots_used);
	F(errseq_daemon_status, slots_held);
	F(errseq_daemon_status, clients);
	F(errseq_daemon_status, max_clients);
	F(errseq_daemon_status, incarnation);
	F(errseq_daemon_status, segment_bytes);
	F(errseq_daemon_status, chunks);
	F(errseq_daemon_status, chunk_slots);
	F(errseq_daemon_status, uid_slots);
	F(errseq_daemon_status, max_uid_slots);
	F(errseq_daemon_status, uid_clients);
	F(errseq_daemon_status, max_uid_clients);
	F(errseq_daemon_status, uid_holds);
	F(errseq_daemon_status, max_uid_holds);
	SIZE(errseq_slot_attr);
	F(errseq_slot_attr, flags);
	F(errseq_slot_attr, writers_gid);
	printf("codes %d %d %d %d %d %d %d %d %u %u\n", ERRSEQ_ESTALE,
	       ERRSEQ_EFORKED, ERRSEQ_EPROTO, ERRSEQ_EUNSAFE, ERRSEQ_CREATE,
	       ERRSEQ_EXCL, ERRSEQ_NAME_MAX, ERRSEQ_ATTR_WRITERS_GROUP,
	       (unsigned)ERRSEQ_NO_GROUP, (unsigned)ERRSEQ_LIST_END);
	return 0;
}
