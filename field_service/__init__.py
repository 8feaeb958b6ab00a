"""Field service: technicians, work orders, scheduling and spare parts."""
